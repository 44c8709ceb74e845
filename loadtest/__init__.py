"""Load tests that prove the alert rules fire (and stay quiet when they should)."""
