"""ticketspike adapter package."""
