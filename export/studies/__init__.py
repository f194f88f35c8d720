"""Studies of the exported model: the speed/size benchmark and the backbone comparison."""
