"""The audit log: append-only Decisions linking bookings, Stripe ids, reasons and outcomes."""
