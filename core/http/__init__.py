"""The HTTP trigger: an endpoint inside the engine that queues jobs (``POST /jobs``, GitHub webhooks)."""
