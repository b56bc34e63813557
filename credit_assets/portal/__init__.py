"""The credit department's portal: upload a month, follow it through Dagster, download its outputs; with logins."""
