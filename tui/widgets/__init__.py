"""The dashboard's panes: the job table, the live output, the side lists and the status line."""
