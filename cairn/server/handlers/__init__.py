"""Endpoint handlers, one module per service area; each exports its `ENDPOINTS`."""
