; Python syntax facts for graphmer_core.parsing.python.
; The extractor sorts each capture list by start byte, then assigns each capture to its innermost
; enclosing scope by byte offset (scopes nest), so no pattern needs to know about nesting.

; scopes: classes and functions (methods and nested ones too); every def has one name and one body,
; so the @def, @def.name and @def.body lists line up.
[(function_definition) (class_definition)] @def
(function_definition name: (identifier) @def.name body: (_) @def.body)
(class_definition name: (identifier) @def.name body: (_) @def.body)

; signatures: they belong to the last def starting before them
(function_definition return_type: (_) @returns)
(parameters (identifier) @param)
(parameters (default_parameter name: (identifier) @param))
(parameters (typed_parameter (identifier) @param.typed type: (_) @param.type))
(parameters (typed_default_parameter name: (identifier) @param.typed type: (_) @param.type))
(parameters (list_splat_pattern (identifier) @param.star))
(parameters (typed_parameter (list_splat_pattern (identifier) @param.star)))
(parameters (dictionary_splat_pattern (identifier) @param.star))
(parameters (typed_parameter (dictionary_splat_pattern (identifier) @param.star)))

; decorators: they belong to the first def starting after them (a call's callee stands for it)
(decorator [(identifier) (attribute)] @decorator)
(decorator (call function: (_) @decorator))

; call sites: the callee expression (identifier, attribute chain, super().m, f().m, ...)
(call function: (_) @call)

; value flow: returned expressions, loop iterables, parameter defaults
(return_statement (_) @ret)
(for_statement left: (_) @for.left right: (_) @for.right)
(parameters (default_parameter name: (identifier) @default.name value: (_) @default.value))
(parameters (typed_default_parameter name: (identifier) @default.name value: (_) @default.value))
; `if` and `try` statements: the extractor keeps those of module and class bodies, and the `try`
; of functions that catch ImportError, NameError or AttributeError (what they bind holds on some
; runs only). Matching them all is cheaper than matching by parent.
[(if_statement) (try_statement)] @cond
; the right side of an assignment, whatever its shape
(assignment right: (_) @asg.value)

; assignments, annotated or not (`x = ...`, `x: T = ...`, `x: T`, `self.x = ...`, `a = b = c()`)
(assignment left: (_) @asg)
(assignment type: (_) @asg.type)
(assignment right: [(identifier) (attribute)] @asg.name)
(assignment right: (none) @asg.none)
(assignment right: (assignment) @asg.chain)
(assignment right: [(list) (tuple)] @asg.list)
(assignment right: (call function: (_) @asg.callee))

; other name bindings: they make a name local (shadowing) without a known value
(augmented_assignment left: (identifier) @bind)
(for_statement left: (_) @bind)
(as_pattern_target) @bind
(named_expression name: (identifier) @bind)
; comprehension variables and lambda parameters: bound in the enclosing function here, which is
; coarser than Python's own scopes but never lets them resolve to an outer name
(for_in_clause left: (_) @bind)
(lambda_parameters (identifier) @bind)
(lambda_parameters (default_parameter name: (identifier) @bind))
(global_statement (identifier) @global)
(nonlocal_statement (identifier) @bind)  ; an enclosing function's variable: left unknown

; imports
[(import_statement) (import_from_statement)] @import

; exceptions
(raise_statement) @raise
(except_clause) @except
