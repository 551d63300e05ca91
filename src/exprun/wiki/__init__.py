"""The person's pages: frontmatter edited surgically, exprun's own blocks, the lifecycle, the wiki log."""
