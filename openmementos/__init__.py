"""openmementos: build, check, publish and use OpenMementos-style training data."""

__version__ = "0.1.0"
