"""Environment objects that are not agents: the forum and the offline street market."""
