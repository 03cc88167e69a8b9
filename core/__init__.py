"""flowtui's engine library: plain Python (asyncio and threads), never Textual, never a surface.

Foundations at the top: ``clock`` (the one wall clock), ``paths`` (every file), ``jobs`` (the job
record), ``events`` (the bus surfaces listen to), ``display`` and ``summary`` (outside text made
safe, a job in a few words), ``errors`` (failures as one sentence) and ``extras`` (optional
installs). The packages beside them each hold one concern; the README's map names them all.
"""
