"""Consent: versioned notices, the consent ledger (GDPR Art. 7), and signed Kantara receipts.

``ledger`` holds the rules as pure functions; ``records`` the storage; ``service`` the use cases the
command line, the web app and the enforcement point call; ``receipts`` the signed proofs for owners.
"""
