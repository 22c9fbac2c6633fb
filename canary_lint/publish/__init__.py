"""Publishing a report where reviewers look: the sticky pull-request comment and CI link options."""
