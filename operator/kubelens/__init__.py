"""kubelens: LLM-driven runtime investigation for Kubernetes."""
