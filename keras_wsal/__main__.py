from keras_wsal.cli import main
import sys

sys.exit(main())
