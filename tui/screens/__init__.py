"""One screen or modal per concern: the dashboard, a job's details, the dialogs, help, errors."""
