import sys

from keras_wsal.cli import main

sys.exit(main())
