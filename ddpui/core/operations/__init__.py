"""Running the service: data retention and the one-time Prefect set-up."""
