"""What the tests stand on: the harness, the test doubles and fakes, and the tests' own helpers."""
