"""Generated tokens of a run (`trace`) and where an arm's runs fork in tokens (`forks`)."""
