"""The decision service: applications decided as they arrive, over HTTP, by the registry's champion."""
