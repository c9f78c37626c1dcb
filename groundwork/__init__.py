"""What every process of Điểm Cầu stands on: settings, object storage, the private Redis, signed
tokens and the live contract (the Redis names of a live event).

The panel, the workers, the scheduler and the media server all import it, so it imports no other
package of this project and nothing of Flask, the database or RQ (tests/test_architecture.py checks).
"""
