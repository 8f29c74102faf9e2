"""Failed-payment recovery: decline classes, retry policy, schedules and messages."""
