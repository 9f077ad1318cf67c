"""`python -m keras_wsal.cli`: the `keras-wsal` command line."""

import sys

from keras_wsal.cli import main

sys.exit(main())
