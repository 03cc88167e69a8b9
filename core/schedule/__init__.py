"""Jobs that time or other jobs start: cron schedules and workflow steps."""
