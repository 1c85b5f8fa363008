"""Vendor providers, secret handling and the Twilio REST stand-in."""
