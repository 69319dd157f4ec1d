# A package, so that the fixtures in conftest.py can have package scope (see there).
