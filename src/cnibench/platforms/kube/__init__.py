"""The Kubernetes platforms: kind, an existing cluster (kubeconfig) and AKS, over one base (each module registers
its platform: :data:`cnibench.platforms.PLATFORMS` discovers them)."""
