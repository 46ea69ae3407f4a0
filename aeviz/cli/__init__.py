"""The `aeviz` command (`main.py`: train, import, zoo, info, adapters) and its argument checks (`trainargs.py`)."""
