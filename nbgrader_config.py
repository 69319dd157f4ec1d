"""nbgrader reads its configuration from the folder Jupyter starts in.  `make lab` starts at the repository
root, so this file hands over to the course's own configuration: the formgrader and nbgrader commands run here
use course/ as the course root (see course/README.md)."""
import os

c = get_config()  # noqa: F821 - provided by nbgrader
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "course", "nbgrader_config.py"))  # noqa: F821
