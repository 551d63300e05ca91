"""The end of a run: collect its seeds into the page as one resumable transaction, and the wiki-wide status."""
