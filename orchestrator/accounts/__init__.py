"""Accounts: users, reception offices, sign-in and sign-out."""
