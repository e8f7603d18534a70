"""Wire level: how messages become bytes and back, with no IO."""
