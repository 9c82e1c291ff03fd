"""``omcm stats`` and ``omcm savings``: what OMCM did and saved, read from the routing log."""
