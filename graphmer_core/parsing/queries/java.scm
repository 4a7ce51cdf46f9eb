; Java syntax facts: one combined query, named captures, read by graphmer_core/parsing/java.py.
; Every capture is a whole node; the extractor navigates the fields around it (name, type, ...).
; Flat patterns only: nested patterns cost more in the query walk than a field lookup in Python.

(package_declaration) @package
(import_declaration) @import

; scopes: type declarations and callables (constructors are named <init>)
[(class_declaration) (interface_declaration) (enum_declaration) (record_declaration)
 (annotation_type_declaration)] @type
[(method_declaration) (constructor_declaration) (compact_constructor_declaration)
 (annotation_type_element_declaration)] @method

; members
[(field_declaration) (constant_declaration)] @field
(enum_constant) @enum_constant

; references inside code; `new T() { ... }` also opens an anonymous-class scope
(method_invocation) @call
(method_reference) @mref
(explicit_constructor_invocation) @ctor_call
(object_creation_expression) @new
(throw_statement) @throw
(catch_formal_parameter) @catch
(local_variable_declaration) @local
(enhanced_for_statement) @foreach
(lambda_expression) @lambda
