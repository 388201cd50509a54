import os

from hypothesis import settings

# In CI, property tests draw the same examples every run, so a red build is reproducible; locally they
# explore new examples each run.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150)
settings.register_profile("dev", deadline=None, max_examples=150)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
