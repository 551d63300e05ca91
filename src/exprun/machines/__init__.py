"""Where a command runs (here, a server over SSH, a SLURM cluster): GPUs, the environment, the dataset probe,
and the launcher primitives (screen, ssh, sbatch) that start a detached run there.
"""
