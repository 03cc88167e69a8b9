"""How processes wake and find each other.

``changes`` says what an operation changed and tells the engines, ``doorbell`` wakes this
process's workers and other processes through a fifo, ``redis_channel`` does it across
machines, ``lock`` is the one engine per data dir, ``leader`` the one leader among engines on
Redis, and ``attach`` an attached window's two senses.
"""
