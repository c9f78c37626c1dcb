"""The live media plane: program (decode once, encode once per rendition), fan-out of the same
encoded packets to every subscriber, rooms, floor, relay uplink, and the WHIP/WHEP client."""
