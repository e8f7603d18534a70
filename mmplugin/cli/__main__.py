import sys

from mmplugin.cli import main

sys.exit(main())
