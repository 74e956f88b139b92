"""Local servers on loopback that speak each platform's API, for adapter contract tests, the
cross-adapter fault test and bench/poll.py. `server` holds the shared HTTP machinery (scripted
answers, handlers, injected faults); one module per platform holds its fake."""
