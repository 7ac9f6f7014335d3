import sys

from kubelens.cli import main

sys.exit(main())
