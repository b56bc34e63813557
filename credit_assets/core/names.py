"""Names a person or a machine caller is known by in the audit trail."""

import re

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{1,31}")  # 2-32 characters: nothing a log reader could mistake
