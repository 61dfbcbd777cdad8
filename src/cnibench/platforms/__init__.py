"""Where clusters run. ``netns`` is the embedded local platform."""
