import sys

from exprun.cli import main

sys.exit(main())
