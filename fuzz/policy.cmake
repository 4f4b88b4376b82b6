# The @policy expression language (src/policy).
eventide_fuzzer(policy_fuzzer eventide_policy)
