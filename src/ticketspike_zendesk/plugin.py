"""The ticketspike entry point of this adapter (hook implementations)."""
