"""Generated protobuf code for proto/storesight/v1 (``make proto``); do not edit by hand."""
