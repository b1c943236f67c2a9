"""Auth domain: accounts, tokens, roles and the input rules. Pure Python; imports stdlib and the kernel only."""
