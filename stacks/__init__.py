"""The CDK app's stacks and constructs: one construct per unit of infrastructure."""
