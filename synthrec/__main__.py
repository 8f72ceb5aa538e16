import sys

from synthrec.cli import main

sys.exit(main())
